"""Text for moderation (pure): normalisation, word matching, links and classifiers."""
