"""A verdict of `lab verify`: one Check (category, subject, pass/fail/warn/skip, message, the links
at fault). Its own module, so that every judge (invariants, tenancy, azpath, names) can make one
without importing the others."""

from __future__ import annotations

from dataclasses import dataclass, field

PASS, FAIL, WARN, SKIP = "pass", "fail", "warn", "skip"


@dataclass
class Check:
    category: str
    subject: str
    status: str
    message: str
    links: list[str] = field(default_factory=list)  # the links at fault, most telling first
    evidence: str = ""  # packets, as text
    leak: bool = False  # the links at fault carried traffic they must never carry (vs. a missing answer)

    def to_dict(self) -> dict:
        return {"category": self.category, "subject": self.subject, "status": self.status,
                "message": self.message, "links": self.links, "evidence": self.evidence, "leak": self.leak}
