"""The journals we apply: which file they change, its layout and key, where receivers land."""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.sources.legacy.feeds import Feed, feed_by_name


@dataclass(frozen=True)
class JournalFeed:
    name: str  # the table it changes: customers, open_items
    copybook: str  # DSPJRN header + JOESD image
    entry_record: str
    file_glob: str  # receivers, e.g. JRNCUST_R000001.dat
    image_feed: str  # the legacy feed whose detail layout the images have

    @property
    def folder(self) -> str:
        return f"journals/{self.name}"

    @property
    def image(self) -> Feed:
        return feed_by_name(self.image_feed)

    @property
    def object_name(self) -> str:
        """The journaled physical file (JOOBJ), e.g. ARCUSTP."""
        return self.image.copybook.split(".")[0] + "P"

    @property
    def key(self) -> str:
        return self.image.primary_key[0]


JOURNALS: tuple[JournalFeed, ...] = (
    JournalFeed("customers", "JRNCUST.cpy", "JRNCUST-ENTRY", "JRNCUST_R*.dat", "customers"),
    JournalFeed("open_items", "JRNOPEN.cpy", "JRNOPEN-ENTRY", "JRNOPEN_R*.dat", "open_items"),
)

# entry types (JOENTT) by meaning; DSPJRN's record operations and commitment control codes
INSERTS = ("PT", "PX")
BEFORE_IMAGE = "UB"
AFTER_IMAGE = "UP"
DELETES = ("DL",)
COMMIT_START, COMMIT, ROLLBACK = "SC", "CM", "RB"
CONTROL = (COMMIT_START, COMMIT, ROLLBACK)


def journal_by_name(name: str) -> JournalFeed:
    for j in JOURNALS:
        if j.name == name:
            return j
    raise KeyError(f"no journal {name!r}; known: {', '.join(j.name for j in JOURNALS)}")
