-- One database per service (ADR 3).
CREATE DATABASE hospital_feed;
CREATE DATABASE scoring;
CREATE DATABASE referral;
CREATE DATABASE scheduling;
