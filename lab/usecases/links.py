"""`lab link set|clear|show`: impairments on a live lab's links (lab.apply.linkctl does the work:
tbf for rate everywhere, netem for delay, jitter and loss where the kernel has it)."""

from __future__ import annotations


def link_set(lab: str, link: str, *, rate: str | None = None, delay: str | None = None, jitter: str | None = None,
             loss: str | None = None) -> dict:
    """Replace LINK's impairment; bad values and a missing netem are input errors (nothing changed)."""
    from lab.apply.linkctl import set_link

    return set_link(lab, link, rate=rate, delay=delay, jitter=jitter, loss=loss)


def link_clear(lab: str, link: str | None = None) -> list[str]:
    """Remove LINK's impairment, or every link's; returns the links cleared."""
    from lab.apply.linkctl import clear_links

    return clear_links(lab, link)


def link_show(lab: str, link: str | None = None) -> list[dict]:
    """The impaired links (or LINK), with the qdiscs read back from the kernel on each end."""
    from lab.apply.linkctl import show_links

    return show_links(lab, link)
