"""The groups the connector manages, seen from the snapshot: paths, scope and cascades.

The scope is what a move may take a learner role away from: the synchronized group, its
hierarchy subtree (only as deep as the configured levels, and only when a hierarchy is
configured) and the rule groups. Groups outside it, and roles other than learner, are never
touched. Hierarchy values are matched to existing group names exactly (case-sensitive).

This module must never decide what a user wants (``desired.py``) nor emit actions
(``planner.py``): it answers questions about the group tree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Container, Iterable, Mapping
from itertools import chain

from engine.config.models import Hris
from engine.errors import PlanError
from engine.hris.rows import PATH_SEPARATOR
from engine.hris.snapshot import CustomFieldDefinition, LmsGroup, Snapshot, fed_definition_ids


class GroupTree:
    """Indexes over the synchronized group's tree, built once per plan."""

    def __init__(self, snapshot: Snapshot, config: Hris) -> None:
        self.root_id = config.group
        groups = snapshot.groups_by_id
        root = groups.get(config.group)
        if root is None:
            raise PlanError(
                f"the synchronized group '{config.group}' is not in the LMS snapshot",
                hint="check hris.group in the customer file (the group id shown in the group's URL)",
            )
        self.root_name = root.name
        children: dict[str, list[LmsGroup]] = {}
        for group in sorted(groups.values(), key=lambda g: g.id):
            if group.parent_id is not None:
                children.setdefault(group.parent_id, []).append(group)
        self._children = children
        # path (names below the root) → id, only as deep as the configured hierarchy.
        self.by_path: dict[tuple[str, ...], str] = {}
        self.path_of: dict[str, tuple[str, ...]] = {root.id: ()}
        frontier: list[tuple[str, tuple[str, ...]]] = [(root.id, ())]
        for _ in range(len(config.groups.hierarchy)):
            deeper: list[tuple[str, tuple[str, ...]]] = []
            for parent_id, parent_path in frontier:
                for child in children.get(parent_id, ()):
                    path = (*parent_path, child.name)
                    if path in self.by_path:  # two siblings with one name: the first id wins
                        continue
                    self.by_path[path] = child.id
                    self.path_of[child.id] = path
                    deeper.append((child.id, path))
            frontier = deeper
        missing = [rule.group for rule in config.groups.rules if rule.group not in groups]
        if missing:
            raise PlanError(
                f"group(s) {', '.join(sorted(set(missing)))} named in hris.groups.rules "
                "do not exist in the LMS",
                hint="fix the group ids in hris.groups.rules (or create the groups first)",
            )
        scope = {root.id, *self.path_of, *(rule.group for rule in config.groups.rules)}
        self.scope: frozenset[str] = frozenset(scope)
        self._groups = groups
        # Groups earlier runs managed and this configuration no longer does (a rule removed,
        # a hierarchy made shorter): their learner roles go back. Not a group holding the
        # synchronized group (the sync moved down from it): leaving it would take users out
        # of everything below, the synchronized group included.
        # (The adapter reads each such group with its whole subtree, so "holds" is decided
        # by going down from it, whatever of the groups above the snapshot holds.)
        self.former: tuple[str, ...] = tuple(
            sorted(
                group_id
                for group_id in snapshot.previous_groups
                if group_id in groups and group_id not in scope and not self._holds(group_id, root.id)
            )
        )

    def _holds(self, group_id: str, inner: str) -> bool:
        """Whether ``inner`` is below ``group_id``."""
        seen: set[str] = set()
        stack = [group_id]
        while stack:
            for child in self._children.get(stack.pop(), ()):
                if child.id == inner:
                    return True
                if child.id not in seen:
                    seen.add(child.id)
                    stack.append(child.id)
        return False

    def display(self, group_id: str | None, path: tuple[str, ...]) -> str:
        """ "Acme › France › Paris" for the tree; the name chain for a rule group elsewhere."""
        if group_id is None or group_id in self.path_of:
            return PATH_SEPARATOR.join((self.root_name, *(path or self.path_of.get(group_id or "", ()))))
        names: list[str] = []
        seen: set[str] = set()
        current = self._groups.get(group_id)
        while current is not None and current.id not in seen:
            seen.add(current.id)
            names.append(current.name)
            current = self._groups.get(current.parent_id) if current.parent_id else None
        return PATH_SEPARATOR.join(reversed(names)) if names else group_id

    def wanted_groups(self, path: tuple[str, ...], rule_groups: tuple[str, ...]) -> tuple[str, ...] | None:
        """The scope groups (sorted, root aside) a row with this hierarchy path and these rule
        groups wants its user to be learner of; None when its leaf does not exist yet."""
        want = set(rule_groups)
        if path:
            leaf = self.by_path.get(path)
            if leaf is None:
                return None
            want.add(leaf)
        want.discard(self.root_id)
        return tuple(sorted(want))

    def public_descendants(self, group_id: str) -> frozenset[str]:
        """Groups a learner also leaves when removed from ``group_id``: its public subgroups,
        and theirs, recursively."""
        found: set[str] = set()
        stack = [group_id]
        while stack:
            for child in self._children.get(stack.pop(), ()):
                if child.public and child.id not in found:
                    found.add(child.id)
                    stack.append(child.id)
        return frozenset(found)

    def missing_prefixes(
        self, path: tuple[str, ...], planned: Container[tuple[str, ...]]
    ) -> list[tuple[str, ...]]:
        """Prefixes of ``path`` (shortest first) that exist neither in the LMS nor in ``planned``."""
        return [
            path[:depth]
            for depth in range(1, len(path) + 1)
            if path[:depth] not in self.by_path and path[:depth] not in planned
        ]


class ScopeLearners:
    """Who is learner of which scope group (the root aside), per user or for many at once.

    ``of(user)`` is the sorted tuple of scope groups where the user is learner, as the
    planner compares it with what a row wants; the bulk check (``unchanged.py``) asks the
    per-group sets directly, which stay small and in cache, instead of a million-entry
    index. ``repeated`` counts the groups of users learner in more than one.
    """

    def __init__(self, tree: GroupTree, learners: Mapping[str, Collection[str]]) -> None:
        self.groups = tuple(sorted(tree.scope - {tree.root_id}))
        self.members: dict[str, frozenset[str]] = {}
        for group_id in self.groups:
            members = learners.get(group_id, frozenset())
            self.members[group_id] = members if isinstance(members, frozenset) else frozenset(members)
        self._memo: dict[str, tuple[str, ...]] = {}
        self._everyone: frozenset[str] | None = None
        self._repeated: dict[str, int] | None = None
        #: Learners of the groups the connector managed before and no longer does (``former``).
        self.former = {group_id: frozenset(learners.get(group_id, ())) for group_id in tree.former}
        self.former_everyone: frozenset[str] = frozenset().union(*self.former.values())

    def former_of(self, user_id: str) -> tuple[str, ...]:
        """The formerly managed groups (sorted) where ``user_id`` is still learner."""
        if user_id not in self.former_everyone:
            return ()
        return tuple(g for g, members in self.former.items() if user_id in members)

    def of(self, user_id: str) -> tuple[str, ...]:
        """The scope groups (sorted) where ``user_id`` is learner."""
        found = self._memo.get(user_id)
        if found is None:
            found = self._memo[user_id] = tuple(g for g in self.groups if user_id in self.members[g])
        return found

    def prefetch(self, user_ids: Collection[str]) -> None:
        """``of`` for many users in one pass per group (set intersections stay in C)."""
        found: dict[str, list[str]] = {user_id: [] for user_id in user_ids if user_id not in self._memo}
        # set & set walks the smaller one with stored hashes; set & dict would walk the dict.
        wanted = frozenset(found)
        for group_id in self.groups:
            for user_id in self.members[group_id].intersection(wanted):
                found[user_id].append(group_id)
        shared: dict[tuple[str, ...], tuple[str, ...]] = {}
        for user_id, groups in found.items():
            key = tuple(groups)
            self._memo[user_id] = shared.setdefault(key, key)

    @property
    def everyone(self) -> frozenset[str]:
        """Users learner of at least one scope group."""
        if self._everyone is None:
            self._everyone = frozenset().union(*self.members.values())
        return self._everyone

    @property
    def repeated(self) -> dict[str, int]:
        """user → number of scope groups, for users learner of two or more."""
        if self._repeated is None:
            total = sum(map(len, self.members.values()))
            # The union is only counted here (kept only if already asked for): at a
            # million users it is a 32 MiB set.
            everyone = self._everyone or frozenset().union(*self.members.values())
            if total == len(everyone):
                self._repeated = {}
            else:
                counts = Counter(chain.from_iterable(self.members.values()))
                self._repeated = {user: n for user, n in counts.items() if n > 1}
        return self._repeated


def deployed_memory(
    hris: Hris, groups: Iterable[LmsGroup], definitions: Iterable[CustomFieldDefinition]
) -> tuple[frozenset[str], frozenset[str]]:
    """What a finished apply of ``hris`` would have recorded on an LMS holding ``groups`` and
    ``definitions`` (see ``engine.apply.pipeline``): the ids of the definitions it feeds and
    of the groups where it gives learner roles.

    The pull-request review runs where the run history is not (CI, not the runner): the
    memory of the configuration deployed today stands in for it, so the data effect of
    dropping a mapping or a rule shows the values and roles it takes away. Lenient where a
    plan is strict: a group deleted since the deployment simply holds no role of ours."""
    held = tuple(groups)
    fed = frozenset(fed_definition_ids(definitions, hris.custom_field_titles))
    present = {group.id for group in held}
    if hris.group not in present:
        return fed, frozenset()
    rules = [rule for rule in hris.groups.rules if rule.group in present]
    reachable = hris.model_copy(update={"groups": hris.groups.model_copy(update={"rules": rules})})
    return fed, GroupTree(Snapshot(groups=held), reachable).scope
