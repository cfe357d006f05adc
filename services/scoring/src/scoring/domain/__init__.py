"""Pure rules: NHS numbers, the risk model and the hot-onboarding decision."""
