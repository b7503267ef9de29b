"""Loading: source batches -> contract check -> one destination transaction per resource.

`plan` says what a load is; `loader` carries one out; `resolve` turns a project's pipeline into plans;
`transforms` builds the batch transforms (typed row functions, SQL column expressions).
"""
