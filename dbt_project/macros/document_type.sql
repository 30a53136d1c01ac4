{#- The items ledger's document type codes (OI-DOC-TYPE), named. -#}
{% macro document_type(code) -%}
    case {{ code }}
        when 'RE' then 'invoice'
        when 'GS' then 'credit_note'
        else 'other'
    end
{%- endmacro %}
