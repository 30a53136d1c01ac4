{#- Exact conversion to EUR at a reference rate quoted as units per EUR:
    integer arithmetic on cents and micro-units, rounded half away from zero,
    because DuckDB's decimal division returns DOUBLE. -#}
{% macro convert_to_eur(amount, units_per_eur) -%}
    (
        sign({{ amount }})
        * (
            (
                abs(({{ amount }} * 100)::hugeint) * 2000000
                + ({{ units_per_eur }} * 1000000)::hugeint
            )
            // (2 * ({{ units_per_eur }} * 1000000)::hugeint)
        )::decimal(38, 0)
        * 0.01::decimal(3, 2)
    )::decimal(18, 2)
{%- endmacro %}
