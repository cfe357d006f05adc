"""Sample ADT messages shaped like real NHS trust feeds (test NHS numbers, fake names).

`adt()` builds a message field by field; the constants are whole messages as a PAS sends
them, quirks included.
"""

VALID_NHS = ("9990000018", "9990000026", "9990000034", "9434765919")

# York (RCB) PAS, ITK v2.4: Z-segments before PD1, NHS number second in PID-3, offsets.
RCB_A01 = (
    "\r".join(
        [
            "MSH|^~\\&|PAS|RCB|ENSEMBLE|ENSEMBLE|20261122101512+0000||ADT^A01^ADT_A01|RCB0000001|P|2.4|||AL|NE",
            "EVN|A01|20261122101500+0000||||20261122100500+0000",
            "PID|1||RCB123456^^^RCB^MR~9990000018^^^NHS^NH||TEST^PATIENT^^^MRS||19410302|F|||"
            "1 TEST STREET^^YORK^^YO1 1AA||||||||||||||||||||NSTS01",
            "ZU1|20261122|LOCAL|ONLY",
            "PD1|||TEST SURGERY^^L85001|G1234567^TEST^DOCTOR",
            "PV1|1|I|WARD 7^BAY 2^BED 4^RCB|21|||C1234567^TEST^CONSULTANT||||||||||||V00123"
            "|||||||||||||||||||||||||20261122100500+0000",
            "ZPD|UNKNOWN|STUFF",
        ]
    )
    + "\r"
)

# An older v2.3 engine: BOM, `\n` ends, no EVN, minute precision, A&E escaped, HN type code.
V23_A04_AE = (
    "\ufeff"
    + "\n".join(
        [
            "MSH|^~\\&|EDIS|RCB|ENSEMBLE|ENSEMBLE|202607011015||ADT^A04|ED-77|P|2.3",
            "PID|1||9990000026^^^NHS^HN||TEST^PATIENT||19500101|M",
            "PD1|||~TEST PRACTICE^^L85002~|",
            "PV1|1|E|A\\T\\E^CUBE 3^^RCB|E|||||||||||||||ED00042"
            "|||||||||||||||||||||||||202607011010",
        ]
    )
    + "\n"
)

# A discharge with `\r\n` ends, `^^^NHS` without type code, a + offset and PV1-36.
RCB_A03 = (
    "\r\n".join(
        [
            "MSH|^~\\&|PAS|RCB|ENSEMBLE|ENSEMBLE|20261201163000+0100||ADT^A03^ADT_A03|RCB0000099|P|2.4",
            "EVN|A03|20261201163000+0100",
            "PID|1||9990000034^^^NHS||TEST^PATIENT||19300505|F",
            "PD1|||TEST SURGERY^^L85001",
            "PV1|1|I|WARD 9^^^RCB|22|||||||||||||||V00999|||||||||||||||||01"
            "||||||||20261128090000+0100|20261201160000+0100",
        ]
    )
    + "\r\n"
)


def adt(
    trigger: str = "A01",
    *,
    nhs: str = "9990000018",
    pid3: str | None = None,
    pd1_3: str | None = None,
    practice: str | None = "L85001",
    control_id: str = "CTRL-0001",
    facility: str = "RCB",
    patient_class: str = "I",
    location: str = "WARD 7^BAY 2^BED 4^RCB",
    admission_type: str = "21",
    visit: str = "V00123",
    evn6: str = "202611221015",
    admit_at: str = "202611221000",
    discharge_at: str = "",
    disposition: str = "",
    version: str = "2.4",
    with_evn: bool = True,
    end: str = "\r",
) -> str:
    """One ADT message; every argument is the raw ER7 text of its field."""
    structure = {"A04": "ADT_A01", "A08": "ADT_A01", "A11": "ADT_A09", "A13": "ADT_A01"}
    pv1 = ["PV1", "1", patient_class, location, admission_type] + [""] * 41
    pv1[19], pv1[36], pv1[44], pv1[45] = visit, disposition, admit_at, discharge_at
    if pd1_3 is None:
        pd1_3 = f"TEST SURGERY^^{practice}" if practice else ""
    segments = [
        f"MSH|^~\\&|PAS|{facility}|ENSEMBLE|ENSEMBLE|202611221016||ADT^{trigger}^"
        f"{structure.get(trigger, f'ADT_{trigger}')}|{control_id}|P|{version}",
        *([f"EVN|{trigger}|202611221016||||{evn6}"] if with_evn else []),
        f"PID|1||{pid3 if pid3 is not None else f'{nhs}^^^NHS^NH'}||TEST^PATIENT||19410302|F",
        f"PD1|||{pd1_3}|G1234567^TEST^DOCTOR",
        "|".join(pv1).rstrip("|"),
    ]
    return end.join(segments) + end
