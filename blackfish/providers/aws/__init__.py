"""provider: aws: every node an EC2 instance booted from Flatcar with its user-data (see docs/aws.md)."""
