"""The condition codes scoring knows: what a practice extract may name, and what a model file's
condition sets may hold (a set naming any other code is a typo, refused at load).

An extract may carry codes outside this list (a practice's own, SNOMED CT or Read codes): they
are kept with the profile and reported, but no model scores them until they are added here
and to a model's condition sets.
"""

from typing import Final

KNOWN_CONDITIONS: Final[dict[str, str]] = {
    # The eight Symphony priority long-term conditions (York CHE Research Paper 96, 2014).
    "depression": "depression",
    "cancer": "cancer",
    "diabetes": "diabetes",
    "chd": "coronary heart disease",
    "stroke": "stroke",
    "copd": "chronic obstructive pulmonary disease",
    "dementia": "dementia",
    "ckd": "chronic kidney disease",
    # Others an extract commonly carries.
    "heart_failure": "heart failure (a PARR-30 input)",
    "severe_mental_illness": "schizophrenia, bipolar disorder or other psychoses",
    "anxiety": "anxiety disorder",
    "obesity": "obesity coded as a condition (BMI may come as its own field)",
    "asthma": "asthma",
    "hypertension": "hypertension",
}
