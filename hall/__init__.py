"""The hall's domain: services, windows, tickets and the rules that govern them.

Nothing in this package imports a web, GUI or hardware library: the server and every device
program are thin shells around it.
"""
