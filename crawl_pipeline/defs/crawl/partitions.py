import dagster as dg

# Keys look like d02-000153 (depth, batch number): never one partition per account.
account_batches = dg.DynamicPartitionsDefinition(name="account_batches")
