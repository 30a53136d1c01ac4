{#- VAT ids are typed with spaces, dots and dashes; compare them without. -#}
{% macro normalize_vat_id(column) -%}
    nullif(upper(regexp_replace(coalesce({{ column }}, ''), '[^A-Za-z0-9]', '', 'g')), '')
{%- endmacro %}
