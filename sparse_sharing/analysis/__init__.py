"""Reading finished runs back into figures: what `ssl masks` prints and plots."""
