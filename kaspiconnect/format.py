"""How money looks to people: whole tenge with thin groups, `12 990 ₸`."""


def tenge(amount):
    if amount is None:
        return "—"
    return f"{int(amount):,} ₸".replace(",", "\u00a0")
