"""`ssl sweep`: a grid of ordinary runs, on a local pool of worker processes or on a Ray cluster."""
