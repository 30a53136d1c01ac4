{#- The current state of a journaled file: the baseline (a full extract at a known journal
    sequence) overlaid by the latest applied change of each record after that sequence;
    a record whose latest change is a delete is gone. `key` is the image column that
    record_key holds as text; `columns` the image columns to keep. -#}
{% macro journal_current_state(base_source, changes_source, key, columns) -%}
with

base as (
    select * from {{ base_source }}
),

changes as (
    select * from {{ changes_source }}
),

baseline as (
    select max(base.baseline_sequence) as baseline_sequence from base
),

latest_change as (
    select changes.*
    from changes
    cross join baseline
    where changes.sequence > baseline.baseline_sequence
    qualify row_number() over (partition by changes.record_key order by changes.sequence desc) = 1
),

unchanged as (
    select
        {% for c in columns %}base.{{ c }},
        {% endfor %}cast(null as bigint) as last_change_sequence
    from base
    where
        cast(base.{{ key }} as varchar) not in (
            select latest_change.record_key from latest_change
        )
),

changed as (
    select
        {% for c in columns %}latest_change.{{ c }},
        {% endfor %}latest_change.sequence as last_change_sequence
    from latest_change
    where latest_change.operation <> 'delete'
)

select * from unchanged
union all
select * from changed
{%- endmacro %}
