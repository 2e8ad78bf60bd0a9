"""Analytics: the category classifier (rules and the learned model, its training and the people's
reviews) and the early-warning forecast. A stage: reads the base (settings, warehouse), never the
pipeline or the CLI."""
