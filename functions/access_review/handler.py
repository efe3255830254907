"""The access_review function (placeholder until its handler is written; see README)."""


def handler(event, context):
    raise NotImplementedError("access_review: see README, unfinished")
