"""The scan function (placeholder until its handler is written; see README)."""


def handler(event, context):
    raise NotImplementedError("scan: see README, unfinished")
