"""The backup function (placeholder until its handler is written; see README)."""


def handler(event, context):
    raise NotImplementedError("backup: see README, unfinished")
