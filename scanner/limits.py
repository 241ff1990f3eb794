"""Size bounds on hostile input. Operational limits, not policy: they protect the process."""
ID_CHARS = 200
TITLE_CHARS = 2_000
DESCRIPTION_CHARS = 100_000
CATEGORY_CHARS = 1_000
MAX_ATTRIBUTES = 200
MAX_LIST_ITEMS = 200
MAX_MARKETS = 300
ATTRIBUTE_NAME_CHARS = 200
ITEM_CHARS = 5_000          # one attribute value, keyword or image text
