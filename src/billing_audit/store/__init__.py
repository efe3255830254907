"""Where audit results live: small interfaces, their DynamoDB/S3/SNS code and in-memory fakes."""
