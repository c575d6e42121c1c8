"""The trusted side of the triggers' contracts: what ALB and the SQS event source mapping make of
a handler's return value. Standard library only; never imported inside the jail.
"""
