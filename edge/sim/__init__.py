"""The gate in virtual time: scenarios (`simulate`), the demo day and its timeline."""
