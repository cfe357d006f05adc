"""hospital-feed: receives HL7 v2 ADT from hospitals, acknowledges it, publishes encounters
and keeps each practice's alerts about its own registered patients."""
