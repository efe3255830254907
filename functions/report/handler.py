"""The report function (placeholder until its handler is written; see README)."""


def handler(event, context):
    raise NotImplementedError("report: see README, unfinished")
