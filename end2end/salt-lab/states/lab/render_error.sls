# Fails to render on purpose (an unclosed Jinja block): the minion's return is a list of
# error strings instead of the state dict. Not in top.sls: apply it only explicitly,
#   lab.sh salt web-01 state.sls lab.render_error
{% if grains['id'] %}
lab-render-error:
  test.nop:
    - name: never reached
