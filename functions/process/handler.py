"""The process function (placeholder until its handler is written; see README)."""


def handler(event, context):
    raise NotImplementedError("process: see README, unfinished")
