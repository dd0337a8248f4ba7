# Failing state for broken-01: its highstate must end with failures.
lab-broken-command:
  cmd.run:
    - name: 'echo "lab: broken on purpose" >&2; exit 1'

lab-broken-test:
  test.fail_without_changes:
    - name: lab broken state fails on purpose
