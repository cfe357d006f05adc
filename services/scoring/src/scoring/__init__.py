"""scoring: transparent, versioned risk scores; score changes and hot-onboarding triggers."""
