"""referral: referrals to health coaching and complex care, from GPs and hot onboarding."""
