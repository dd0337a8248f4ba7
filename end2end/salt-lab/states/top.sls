# Halite salt lab top file: every minion gets a passing state,
# broken-01 additionally gets one that always fails.
base:
  '*':
    - lab.ok
  'broken-01':
    - lab.broken
