"""The simulated A/B (`make abtest`): feed variants side by side, judged by session health."""
