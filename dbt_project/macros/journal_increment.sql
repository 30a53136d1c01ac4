-- noqa: disable=LT02
{#- The journal increment: when only journal changes arrived since the last build (same
    baseline extracts, same as-of day, same CRM and project), `ledgerbridge build` runs
    dbt without --full-refresh (every other build is a full refresh) and writes
    `main.lb_journal_since` (the sequence each journal was applied through at the last
    published build — a table, not a dbt variable, so dbt's partial parsing survives from
    one build to the next), and the incremental models rebuild only the rows those changes
    touch
    (int_journal_increment_keys, int_journal_increment_moved_matches); every other build
    is a full refresh.

    The models use the append strategy behind a pre-hook that first deletes the touched
    keys: a key the journal deleted is gone afterwards, a changed one is replaced, and the
    untouched rows are neither read from the marts nor written. Each model names the key
    models in a `depends_on` comment, as dbt finds refs inside macros only when rendered.
    (The macro bodies are SQL fragments indented for their callers: sqlfluff's LT02 is off
    for this file, first line.) -#}

{% macro journal_increment_active() -%}
    {{ return(is_incremental()) }}
{%- endmacro %}

{#- The sequence a journal was applied through at the last published build. -#}
{% macro journal_since(journal) -%}
    (
        select since.applied_through_sequence
        from "{{ target.database }}"."main"."lb_journal_since" as since
        where since.journal = '{{ journal }}'
    )
{%- endmacro %}

{#- The rows whose key (a column or an expression) is touched, for the kinds given:
    'customer', 'document', 'customer_status' from int_journal_increment_keys;
    'moved_match' (customers) and 'moved_company' ('company:<id>') from
    int_journal_increment_moved_matches. `by_name`: name the key tables by their relation
    (for tests, which cannot ref models they do not declare) instead of ref(). -#}
{% macro journal_touched(kinds, column, by_name=false) -%}
    {%- set moved = {'moved_match': 'customer', 'moved_company': 'company'} -%}
    cast({{ column }} as varchar) in (
        {%- for kind in kinds %}
            {%- if not loop.first %} union all {% endif %}
            {%- if kind in moved %}
                select moved.key_value
                from {{ journal_key_table('int_journal_increment_moved_matches', by_name) }}
                    as moved
                where moved.key_kind = '{{ moved[kind] }}'
            {%- else %}
                select touched.key_value
                from {{ journal_key_table('int_journal_increment_keys', by_name) }} as touched
                where touched.key_kind = '{{ kind }}'
            {%- endif %}
        {%- endfor %}
    )
{%- endmacro %}

{% macro journal_key_table(name, by_name) -%}
    {%- if by_name -%}
        {{ graph.nodes['model.' ~ project_name ~ '.' ~ name].relation_name }}
    {%- else -%}
        {{ ref(name) }}
    {%- endif -%}
{%- endmacro %}

{#- Filter of the rows to (re)build: the touched ones in an increment, all otherwise. -#}
{% macro journal_increment_filter(kinds, column) -%}
    {%- if journal_increment_active() -%}
        {{ journal_touched(kinds, column) }}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook of an incremental model: in an increment, delete its touched keys (they are
    inserted again if they still exist). The model declares them once, in its config:
    meta={'journal_increment': {'kinds': [...], 'touched_by': <column or expression>}}
    (pipelines/models/increment.py follows the same declarations; a test holds them equal). -#}
{% macro journal_increment_delete() -%}
    {%- if journal_increment_active() -%}
        {%- set spec = model.config.meta.journal_increment -%}
        delete from {{ this }} where {{ journal_touched(spec.kinds, spec.touched_by) }}
    {%- endif -%}
{%- endmacro %}
