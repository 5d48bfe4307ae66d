"""The spec language: validated, frozen specs, the ``sample`` grammar, the learner registry,
replicate settings."""
