{#- E-mails compare case-insensitively and often arrive with stray spaces. -#}
{% macro normalise_email(column) -%}
    nullif(lower(trim({{ column }})), '')
{%- endmacro %}
