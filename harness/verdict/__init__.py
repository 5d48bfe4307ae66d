"""The verdict: checks and the coverage rule, the comparisons, each package's rules and written-out
scores, multiplicity, replicate statistics and verdict, claims, the run's summary."""
