from shared.errors import NotFound


class CommentNotFound(NotFound):
    code = "comment_not_found"
