"""The CARPOS gateway (codec, outbox drain, mock DOJ switch): issue 4 fills this package."""
