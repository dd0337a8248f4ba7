# Passing state: a managed file under the minion's own root_dir
# (so minions never touch the real /etc) plus a state that always reports changes.
lab-motd:
  file.managed:
    - name: {{ opts['root_dir'] }}/lab/motd
    - makedirs: True
    - contents: |
        Managed by the Halite salt lab.
        minion: {{ grains['id'] }}

lab-always-changes:
  test.succeed_with_changes:
    - name: lab always reports a change
