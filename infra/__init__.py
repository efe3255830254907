"""The AWS application in CDK: app.py is the entry point, stack.py composes constructs/<concern>.py."""
