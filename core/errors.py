"""Domain errors, in one place.

``UserFacingError`` carries a message written for the Discord member who caused it; the
app-command error funnel shows it ephemerally. Anything else is a bug: it is logged and the
member sees a generic apology.

A message is English text or a ``core.text.Text`` (its template and values); ``.message`` is
always the English, ``.text`` what the funnel renders in the member's language.
"""

from __future__ import annotations

from core.text import Message


class ConfigError(Exception):
    """The configuration file or environment is invalid; the message names the key."""


class ModelLoadError(Exception):
    """The model could not be loaded from the configured source."""


class UserFacingError(Exception):
    """An error whose message is safe and useful to show to the member."""

    def __init__(self, message: Message) -> None:
        super().__init__(str(message))
        self.message = str(message)
        self.text = message


class InvalidOption(UserFacingError):
    """A command option is out of range or malformed; nothing was queued."""

    def __init__(self, option: str, message: Message) -> None:
        super().__init__(message)
        self.option = option


class QueueFull(UserFacingError):
    """The queue is at its configured maximum."""


class GenerationFailed(UserFacingError):
    """The job ran but produced no image."""


class JobCancelled(Exception):
    """The job was cancelled before it finished."""


class QuotaRefused(UserFacingError):
    """The member's quota, cooldown, queue limit or a block stops this request; nothing was charged."""

    def __init__(self, message: Message, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code  # why, for the audit log: a value of moderation.audit.RefusalReason


class NotAccepting(UserFacingError):
    """The bot is shutting down and takes no new jobs."""


class JobRequeued(Exception):
    """The bot stopped while the job waited or ran; it is queued again in the database."""


class PromptError(ValueError):
    """Bad prompt input; the message is meant for the user."""

    def __init__(self, message: Message) -> None:
        super().__init__(str(message))
        self.text = message


class EmptyPrompt(PromptError):
    pass


class PromptTooLong(PromptError):
    pass


class UnknownOption(PromptError):
    pass


class InvalidWeight(PromptError):
    pass


class NotYourJob(UserFacingError):
    """Someone else's job: only its member or a moderator may cancel it."""


class ContentRefused(UserFacingError):
    """The prompt breaks a content rule of this channel or server."""


class RatingRefused(ValueError):
    """The member asked for more than the channel allows; the message says the limit."""

    def __init__(self, message: Message) -> None:
        super().__init__(str(message))
        self.text = message


class ClassifierLoadError(Exception):
    """The output classifier could not be loaded; the message names the source."""


class NotAModerator(UserFacingError):
    pass


class NotAnAdmin(UserFacingError):
    pass


class BadImage(UserFacingError):
    """An image a member gave (an attachment, a message's image) cannot be used; the message
    says why (not an image, too large, truncated...). Raised before anything is charged."""


class TaggerUnavailable(UserFacingError):
    """The WD14 tagger (for /describe and input checks) could not be loaded; the detail is logged."""
