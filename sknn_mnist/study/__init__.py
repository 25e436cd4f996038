"""The study: compared models, the comparison, reports, plots and how fits run."""
