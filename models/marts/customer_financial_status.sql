-- One row per finance customer: what sales needs to know before the next call.
--
-- AR rules (a credit controller's, stated in the README):
--   open amount  = net balance: open debits plus open credits (credit notes, payments not
--                  yet applied);
--   overdue      = past-due open debits less the open credits (credits are offset against
--                  the past-due debits first, as a net dunning run does), never below 0 —
--                  so a customer whose net balance is <= 0 has nothing overdue;
--   days overdue = days past due of the oldest past-due debit, when something is overdue;
--   utilisation  = the positive net balance as a share of the credit limit, never negative;
--   status       = blocked (credit stop in the master) > current (net balance <= 0) >
--                  in_dunning (overdue and a past-due debit at dunning level 2+) > overdue
--                  (overdue > 0) > current.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        meta={'journal_increment': {'kinds': ['customer_status', 'moved_match'], 'touched_by': 'customer_number'}},
        pre_hook="{{ journal_increment_delete() }}",
    )
}}
-- depends_on: {{ ref('int_journal_increment_keys') }}
-- depends_on: {{ ref('int_journal_increment_moved_matches') }}
with

customers as (
    select * from {{ ref('customers') }}
    where {{ journal_increment_filter(['customer_status', 'moved_match'], 'customer_number') }}
),

open_items as (
    select * from {{ ref('open_items') }}
    where {{ journal_increment_filter(['customer_status', 'moved_match'], 'customer_number') }}
),

payments as (
    select * from {{ ref('payments') }}
    where {{ journal_increment_filter(['customer_status', 'moved_match'], 'customer_number') }}
),

open_summary as (
    select
        customer_number,
        count(*) as open_item_count,
        sum(open_amount_eur) as open_amount_eur,
        coalesce(sum(open_amount_eur) filter (where is_credit), 0) as open_credit_amount_eur,
        coalesce(sum(open_amount_eur) filter (where is_past_due), 0) as past_due_debit_eur,
        coalesce(max(days_past_due) filter (where is_past_due), 0) as oldest_days_past_due,
        coalesce(max(dunning_level) filter (where is_past_due), 0) as max_dunning_level
    from open_items
    group by customer_number
),

payment_summary as (
    select
        customer_number,
        max(value_date) as last_payment_date
    from payments
    group by customer_number
),

measured as (
    select
        customers.customer_number,
        customers.crm_company_id,
        customers.customer_name,
        customers.customer_status,
        customers.credit_limit_eur,
        payment_summary.last_payment_date,
        coalesce(open_summary.open_item_count, 0) as open_item_count,
        coalesce(open_summary.open_amount_eur, 0) as open_amount_eur,
        coalesce(open_summary.open_credit_amount_eur, 0) as open_credit_amount_eur,
        greatest(
            coalesce(open_summary.past_due_debit_eur, 0)
            + coalesce(open_summary.open_credit_amount_eur, 0),
            0
        ) as overdue_amount_eur,
        coalesce(open_summary.oldest_days_past_due, 0) as oldest_days_past_due,
        coalesce(open_summary.max_dunning_level, 0) as max_dunning_level
    from customers
    left join open_summary on customers.customer_number = open_summary.customer_number
    left join payment_summary on customers.customer_number = payment_summary.customer_number
),

final as (
    select
        cast(customer_number as bigint) as customer_number,
        cast(crm_company_id as bigint) as crm_company_id,
        cast(customer_name as varchar) as customer_name,
        cast(open_item_count as integer) as open_item_count,
        cast(open_amount_eur as decimal(18, 2)) as open_amount_eur,
        cast(open_credit_amount_eur as decimal(18, 2)) as open_credit_amount_eur,
        cast(overdue_amount_eur as decimal(18, 2)) as overdue_amount_eur,
        cast(
            case when overdue_amount_eur > 0 then oldest_days_past_due else 0 end as integer
        ) as max_days_past_due,
        cast(last_payment_date as date) as last_payment_date,
        cast(credit_limit_eur as decimal(18, 2)) as credit_limit_eur,
        cast(
            case
                when credit_limit_eur > 0
                    then round(greatest(open_amount_eur, 0) * 100 / credit_limit_eur, 2)
            end as decimal(9, 2)
        ) as credit_utilisation_percent,
        cast(
            case
                when customer_status = 'blocked' then 'blocked'
                when open_amount_eur <= 0 then 'current'
                when overdue_amount_eur > 0 and max_dunning_level >= 2 then 'in_dunning'
                when overdue_amount_eur > 0 then 'overdue'
                else 'current'
            end as varchar
        ) as payment_status
    from measured
)

select * from final
