"""Channel rules with no moderator settings: an ordinary and an age-restricted channel."""

from moderation.policy import PolicySettings, effective_rules

ORDINARY = effective_rules(age_restricted=False, server=PolicySettings(), channel=PolicySettings())
AGE_RESTRICTED = effective_rules(age_restricted=True, server=PolicySettings(), channel=PolicySettings())
