"""GitHub's REST API, as far as lmsync needs it: the pull request's sticky review comment."""

from connectors.github.comments import Comment, CommentError, PullRequestComments, token_from_env

__all__ = ["Comment", "CommentError", "PullRequestComments", "token_from_env"]
