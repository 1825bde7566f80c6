"""Model registry, training/export recipes, model cards and the small models we train."""
