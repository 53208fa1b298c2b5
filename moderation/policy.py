"""Rating rules of a channel: Discord's ceiling, then the moderators' limits and defaults.

Pure functions, tested table-driven without Discord or a database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from core.errors import RatingRefused
from core.text import t
from prompt.ratings import Rating, channel_ceiling


class OverLimitAction(enum.StrEnum):
    """What to do with an image the output check rates above the channel's maximum."""

    WITHHOLD = "withhold"  # not posted; the member is told privately
    SPOILER = "spoiler"  # posted behind Discord's spoiler blur


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """What moderators set for a server or a channel; None = not set (inherit)."""

    max_rating: Rating | None = None
    default_rating: Rating | None = None
    over_limit_action: OverLimitAction | None = None


@dataclass(frozen=True, slots=True)
class UserInstallPolicy:
    """The rules where members use the app through their own account (DMs, group DMs, servers
    without the bot): no server's settings can be read there, so the admin's config applies,
    below Discord's ceiling."""

    max_rating: Rating = Rating.SENSITIVE
    blocklist: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ChannelRules:
    age_restricted: bool
    max_rating: Rating
    default_rating: Rating
    over_limit_action: OverLimitAction
    blocklist: frozenset[str] = field(default_factory=frozenset)

    @property
    def allows_sexual(self) -> bool:
        return self.max_rating >= Rating.QUESTIONABLE

    def choose(self, requested: Rating | None) -> Rating:
        """The rating a request gets here (``prompt.request.RatingRules``); see ``choose_rating``."""
        return choose_rating(self, requested)


def effective_rules(
    *,
    age_restricted: bool,
    server: PolicySettings,
    channel: PolicySettings,
    blocklist: frozenset[str] = frozenset(),
) -> ChannelRules:
    """Combine Discord's ceiling with the server's and the channel's settings.

    Moderators can only lower the maximum: the ceiling (sensitive outside age-restricted
    channels) always wins. The channel's settings override the server's; a default above the
    maximum is lowered to it.
    """
    maximum = channel_ceiling(age_restricted)
    for limit in (server.max_rating, channel.max_rating):
        if limit is not None:
            maximum = min(maximum, limit)
    if channel.default_rating is not None:
        default = channel.default_rating
    elif server.default_rating is not None:
        default = server.default_rating
    else:
        default = Rating.GENERAL
    action = channel.over_limit_action or server.over_limit_action or OverLimitAction.WITHHOLD
    return ChannelRules(
        age_restricted=age_restricted,
        max_rating=maximum,
        default_rating=min(default, maximum),
        over_limit_action=action,
        blocklist=blocklist,
    )


def choose_rating(rules: ChannelRules, requested: Rating | None) -> Rating:
    if requested is None:
        return rules.default_rating
    if requested > rules.max_rating:
        rating, limit = requested.label, rules.max_rating.label
        if rules.age_restricted:
            raise RatingRefused(
                t(
                    "The rating `{rating}` is not allowed in this age-restricted channel; the limit here is `{limit}`.",
                    rating=rating,
                    limit=limit,
                )
            )
        raise RatingRefused(
            t(
                "The rating `{rating}` is not allowed in this channel (it is not age-restricted); "
                "the limit here is `{limit}`.",
                rating=rating,
                limit=limit,
            )
        )
    return requested


def over_limit_action(rules: ChannelRules, classified: Rating) -> OverLimitAction | None:
    """What to do with an image the output check rated ``classified``; None = post it openly.

    A spoiler is still a post: above Discord's ceiling for the channel (adult content outside
    age-restricted channels) the image is withheld whatever moderators chose.
    """
    if classified <= rules.max_rating:
        return None
    if classified > channel_ceiling(rules.age_restricted):
        return OverLimitAction.WITHHOLD
    return rules.over_limit_action


SERVER_WIDE = 0  # the channel id under which server-wide settings and blocklist entries are kept


@dataclass(frozen=True, slots=True)
class GuildSettings:
    server: PolicySettings
    channels: dict[int, PolicySettings]
    modlog_channel_id: int | None
    blocklist: dict[int, frozenset[str]] = field(default_factory=dict)  # channel id (0 = server) -> tags

    def channel(self, channel_id: int) -> PolicySettings:
        return self.channels.get(channel_id, PolicySettings())

    def blocked_in(self, channel_id: int, parent_id: int | None = None) -> frozenset[str]:
        tags = self.blocklist.get(SERVER_WIDE, frozenset()) | self.blocklist.get(channel_id, frozenset())
        if parent_id is not None:
            tags |= self.blocklist.get(parent_id, frozenset())
        return tags
