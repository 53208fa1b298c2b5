"""Which outputs of a WD14 tagger are minor-coded (``loli``, ``shota``, ``child``, ``toddler``,
``aged_down``, …), and the most confident of them for one image: the output check's minor rule
(``moderation.output_check.MinorRule``) reads it beside the rating.

The names come from the one list the prompt rules use, ``moderation/data/minor_tags.txt``: its
Danbooru tags are written there in their canonical spelling, which is also how a WD14 label file
names them, so a label is minor-coded when the list names it or implies a tag it names (as the
prompt rules count it). The list's other entries (words that are not Danbooru tags, aliases)
match no label and cost nothing; a test checks that the list covers the canonical general and
character tags of the prompt rules' set (``ContentFilter.minors``). No WD14-only spelling is
added: the label files checked (SmilingWolf's v3 era) use Danbooru's names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from moderation.content import DEFAULT_DATA_DIR, MINOR_FILE, read_tag_list
from moderation.implications import Implications
from moderation.labels import LabelCategory, TagLabels
from moderation.scores import MinorScore
from prompt.tags import tag_key


def minor_tag_names(data_dir: Path | None = None, implications: Implications | None = None) -> frozenset[str]:
    """The minor-coded tags of ``minor_tags.txt`` in ``data_dir`` (default ``moderation/data``),
    spelt as label files spell tags (lower case, underscores), and every tag that implies one
    in Danbooru's implication graph (``implications``, default the vendored one), as the prompt
    rules count them: a label such as ``oppai_loli`` is ``loli`` too."""
    folder = data_dir if data_dir is not None else DEFAULT_DATA_DIR
    listed = frozenset(tag_key(tag) for tag in read_tag_list(folder / MINOR_FILE).tags) - {""}
    graph = implications if implications is not None else Implications.load()
    return listed | frozenset(graph.listed_ancestors(listed))


@dataclass(frozen=True, eq=False)
class MinorLabels:
    """The output positions of a tagger's minor-coded labels, and their names."""

    names: tuple[str, ...]
    indices: np.ndarray = field(repr=False)

    @classmethod
    def of(cls, labels: TagLabels, minors: frozenset[str] | None = None) -> MinorLabels:
        """The labels ``minors`` names (default: ``minor_tag_names()``); rating rows never count."""
        wanted = minor_tag_names() if minors is None else frozenset(tag_key(m) for m in minors)
        positions = [
            i
            for i, (name, category) in enumerate(zip(labels.names, labels.categories, strict=True))
            if category != LabelCategory.RATING and tag_key(name) in wanted
        ]
        return cls(tuple(labels.names[i] for i in positions), np.asarray(positions, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.names)

    def strongest(self, probabilities: np.ndarray) -> MinorScore | None:
        """The most confident minor-coded label of one result (None when the tagger has none).

        A NaN (a broken model) is reported as such, and the rule treats it as over its
        threshold rather than letting the image through.
        """
        if not len(self.names):
            return None
        values = probabilities[self.indices]
        nan = np.flatnonzero(np.isnan(values))
        best = int(nan[0]) if nan.size else int(np.argmax(values))
        return MinorScore(self.names[best], float(values[best]))
